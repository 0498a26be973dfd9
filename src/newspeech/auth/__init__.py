"""Sign-in, tokens, roles and the rate limits in front of them."""
