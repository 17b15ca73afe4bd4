"""Question handling: clean-up, words and names, abbreviations, intent, structure routes, and the
conversation a follow-up is read in."""
