"""The GraphQL surface: Strawberry types (types/), root fields by domain (fields/), the Schema (root).

Import the schema object from `schema.root`; this package itself imports nothing, so resolvers can
import the types without a cycle.
"""
