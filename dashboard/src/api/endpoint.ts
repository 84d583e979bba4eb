/**
 * Where the API is, relative to this page: the dashboard is served at `<prefix>/celery-admin/dashboard/`
 * and GraphQL at `<prefix>/celery-admin/graphql`, so `../graphql` works behind any proxy path.
 */
export function graphqlUrl(): string {
  return new URL("../graphql", document.baseURI).href;
}

export function websocketUrl(): string {
  const url = new URL(graphqlUrl());
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export function infoUrl(): string {
  return new URL("../system/info", document.baseURI).href;
}

export function graphiqlUrl(): string {
  return graphqlUrl();
}
