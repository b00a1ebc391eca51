"""The built-in collectors: each turns one kind of source into facts and gaps."""
