"""DynamoDB access, one module per table. Item layouts: docs/data-model.md."""
