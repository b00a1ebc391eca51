"""The one secret catalogue (what a secret looks like) and the one mask (how it is shown)."""
