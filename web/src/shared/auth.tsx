// The signed-in account for a page: the token kept in localStorage, sign in, register, sign out.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";

import { ApiError, apiJson, messageOf, storeToken, storedToken } from "./api";
import { Field, useSubmit } from "./form";
import type { User } from "./types";

interface Auth {
  user: User | null;
  /** True until the stored token has been checked. */
  loading: boolean;
  signIn(email: string, password: string): Promise<void>;
  register(fullName: string, email: string, password: string): Promise<void>;
  signOut(): void;
}

const AuthContext = createContext<Auth | null>(null);

/** The API's OAuth2 password flow: the bearer token for an email and password. */
export async function logIn(email: string, password: string): Promise<string> {
  const token = await apiJson<{ access_token: string }>("/auth/login", {
    form: { username: email, password },
    token: null,
  });
  return token.access_token;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(() => storedToken() !== null);

  const loadMe = useCallback(async () => {
    try {
      setUser(await apiJson<User>("/auth/me"));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
        storeToken(null);
      }
      setUser(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (storedToken() !== null) void loadMe();
  }, [loadMe]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      storeToken(await logIn(email, password));
      await loadMe();
    },
    [loadMe],
  );

  const register = useCallback(
    async (fullName: string, email: string, password: string) => {
      await apiJson("/auth/register", {
        json: { full_name: fullName, email, password, role: "customer" },
        token: null,
      });
      await signIn(email, password);
    },
    [signIn],
  );

  const signOut = useCallback(() => {
    storeToken(null);
    setUser(null);
  }, []);

  const value = useMemo(
    () => ({ user, loading, signIn, register, signOut }),
    [user, loading, signIn, register, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

/** Sign in, or create an account, in place. */
export function AuthForm({ intro }: { intro?: string }) {
  const { signIn, register } = useAuth();
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, setError, submit } = useSubmit(
    () => (mode === "signin" ? signIn(email, password) : register(fullName, email, password)),
    messageOf,
  );

  const registering = mode === "register";
  return (
    <section className="card" aria-labelledby="auth-heading">
      <h2 id="auth-heading">{registering ? "Create an account" : "Sign in"}</h2>
      {intro && <p className="muted">{intro}</p>}
      <form onSubmit={submit} noValidate={false}>
        {registering && (
          <Field
            id="auth-name"
            label="Full name"
            autoComplete="name"
            required
            value={fullName}
            onValue={setFullName}
          />
        )}
        <Field
          id="auth-email"
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onValue={setEmail}
        />
        <Field
          id="auth-password"
          label="Password"
          type="password"
          autoComplete={registering ? "new-password" : "current-password"}
          minLength={registering ? 8 : undefined}
          required
          value={password}
          onValue={setPassword}
          hint={registering && <p className="muted">At least 8 characters.</p>}
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="row">
          <button type="submit" disabled={busy}>
            {registering ? "Create account" : "Sign in"}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setMode(registering ? "signin" : "register");
              setError(null);
            }}
          >
            {registering ? "I have an account" : "Create an account"}
          </button>
        </div>
      </form>
    </section>
  );
}
