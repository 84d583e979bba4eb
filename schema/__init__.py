"""The GraphQL surface: shared parts (core/), adapters over Strawberry internals (adapters/), each
domain's types (<domain>/), and the Schema (root.py), whose root types are collected from resolvers/.

Import the schema object from `schema.root`; this package itself imports nothing, so resolvers can
import the types without a cycle.
"""
