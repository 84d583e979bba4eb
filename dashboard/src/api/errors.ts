/**
 * API errors as the dashboard sees them: every expected failure carries a stable
 * `extensions.code` (UNAUTHENTICATED, FORBIDDEN, ...). Views branch on the code, never on text.
 */
import type { CombinedError } from "@urql/core";

export interface ApiFailure {
  code: string;
  message: string;
  path?: readonly (string | number)[];
  /** `extensions.details.reason`, when the API states one (e.g. "expired" for a sign-in). */
  reason?: string;
}

export class ApiError extends Error {
  readonly failures: ApiFailure[];

  constructor(failures: ApiFailure[]) {
    super(failures.map((f) => `${f.code}: ${f.message}`).join("; ") || "request failed");
    this.failures = failures;
  }

  get codes(): string[] {
    return this.failures.map((f) => f.code);
  }

  has(code: string): boolean {
    return this.codes.includes(code);
  }
}

export function toFailures(error: CombinedError | undefined): ApiFailure[] {
  if (!error) return [];
  if (error.networkError) {
    return [{ code: "NETWORK", message: error.networkError.message || "the API did not answer" }];
  }
  return error.graphQLErrors.map((e) => {
    const details = e.extensions?.details as { reason?: unknown } | undefined;
    return {
      code: typeof e.extensions?.code === "string" ? e.extensions.code : "ERROR",
      message: e.message,
      ...(e.path ? { path: e.path } : {}),
      ...(typeof details?.reason === "string" ? { reason: details.reason } : {}),
    };
  });
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
