// Sign in with the provider's email and password (the API's OAuth2 password flow).
import { useState } from "react";

import { logIn } from "../shared/auth";
import { Field, useSubmit } from "../shared/form";
import { say } from "./sentences";
import { ErrorText } from "./ui";

export function SignIn({ onSignedIn, why }: { onSignedIn: (token: string) => void; why: string | null }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, submit } = useSubmit(
    async () => onSignedIn(await logIn(email, password)),
    say,
  );

  return (
    <main className="page dash-narrow">
      <h1>Provider dashboard</h1>
      <form className="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        {why && !error ? <p className="muted">{why}</p> : null}
        <Field
          id="email"
          label="Email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onValue={setEmail}
        />
        <Field
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onValue={setPassword}
        />
        <ErrorText>{error}</ErrorText>
        <button type="submit" disabled={busy} aria-busy={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
