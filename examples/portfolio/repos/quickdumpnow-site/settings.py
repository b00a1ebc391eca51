"""Site build settings."""

# Payments are taken by phone for now; when Stripe goes live the key comes from the
# deploy environment. This is the placeholder the Stripe docs use, not a key.
STRIPE_KEY = "sk_live_xxx"

# The commit where the price table was last reviewed; shown in the quote widget footer.
PRICE_TABLE_COMMIT = "3f9a1c7e2b8d4f60a5e1c9b7d2f4a8e6c1b3d5f7"

SITE_URL = "https://quickdumpnow.example.com"
CONTACT_EMAIL = "luis@example.com"
