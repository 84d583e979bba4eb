/**
 * The typed `graphql()` tag: documents are checked against `graphql.schema` (the committed SDL of
 * the public API) at build time, so a schema change that breaks the dashboard fails the build.
 */
import { initGraphQLTada } from "gql.tada";
import type { introspection } from "./graphql-env.d.ts";

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from "gql.tada";
export { readFragment } from "gql.tada";
