"""Root fields by domain; `schema.root` composes them into Query, Mutation and Subscription."""
