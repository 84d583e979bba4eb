/**
 * Sign in: at the identity provider when the API offers it (single sign-on), or paste a token (from
 * `celery-admin token` or your identity provider), or follow a link carrying `#token=`.
 */
import { useState } from "preact/hooks";
import { providers, signingIn } from "../auth/providers";
import { setToken } from "../auth/session";

export function SignIn({ error }: { error: string | null }) {
  const [value, setValue] = useState("");
  if (signingIn.value) {
    return (
      <main class="signin" id="main" aria-busy="true">
        <h1>celery-admin</h1>
        <p data-testid="signing-in">Signing in at the identity provider…</p>
      </main>
    );
  }
  return (
    <main class="signin" id="main">
      <h1>celery-admin</h1>
      {providers.value.map((provider) => (
        <p key={provider.id}>
          <button type="button" class="primary" data-provider={provider.id} onClick={() => void provider.begin()}>
            {provider.label}
          </button>
        </p>
      ))}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setToken(value);
        }}
      >
        <label>
          Access token
          <textarea
            name="token"
            rows={4}
            value={value}
            onInput={(e) => setValue((e.target as HTMLTextAreaElement).value)}
            placeholder="eyJhbGciOi…"
            spellcheck={false}
            autoComplete="off"
            required
            autoFocus
          />
        </label>
        <p class="muted small">
          Mint one with <code>celery-admin token --sub you --role viewer</code>. It is kept for this
          tab only (session storage).
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
