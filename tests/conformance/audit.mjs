// Runs graphql-http's GraphQL-over-HTTP server audits against the URL given as the first
// argument and prints one JSON line per audit: {id, name, status, reason}.
// Used by tests/conformance/test_graphql_http_audit.py.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const results = await auditServer({ url });
for (const result of results) {
  console.log(
    JSON.stringify({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === 'ok' ? null : result.reason,
    }),
  );
}
