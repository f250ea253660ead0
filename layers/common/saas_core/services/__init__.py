"""Domain services: the rules, and the order of Stripe and DynamoDB steps."""
