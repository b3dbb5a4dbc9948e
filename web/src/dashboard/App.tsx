// The dashboard's shell: sign-in, the provider's profile, navigation between its views.
import { useCallback, useEffect, useMemo, useState } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router-dom";

import { storeToken, storedToken } from "../shared/api";
import { type Provider, myProfile } from "./api";
import { Bookings } from "./Bookings";
import { Calendars } from "./Calendars";
import { Hours } from "./Hours";
import { SignIn } from "./SignIn";
import { Services } from "./Services";
import { type Session, SessionContext, explainer } from "./session";
import { say } from "./sentences";
import { ErrorText, Loading } from "./ui";

export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const [provider, setProvider] = useState<Provider | null>(null);
  const [why, setWhy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const signOut = useCallback((reason: string | null) => {
    storeToken(null);
    setToken(null);
    setProvider(null);
    setWhy(reason);
  }, []);

  const load = useCallback(() => {
    setFailure(null);
    myProfile()
      .then(setProvider)
      .catch((err: unknown) => {
        const status = (err as { status?: number }).status;
        // Not signed in any more, or signed in as a customer: back to the sign-in form.
        if (status === 401 || status === 403) signOut(say(err));
        else setFailure(say(err));
      });
  }, [signOut]);

  useEffect(() => {
    if (token) load();
  }, [token, load]);

  const explain = useMemo(() => explainer((sentence) => signOut(sentence)), [signOut]);

  if (!token) {
    return (
      <SignIn
        why={why}
        onSignedIn={(fresh) => {
          storeToken(fresh);
          setWhy(null);
          setToken(fresh);
        }}
      />
    );
  }
  if (!provider) {
    return (
      <main className="page">
        <h1>Provider dashboard</h1>
        {failure ? (
          <>
            <ErrorText>{failure}</ErrorText>
            <button type="button" onClick={load}>
              Try again
            </button>
          </>
        ) : (
          <Loading what="your profile" />
        )}
      </main>
    );
  }
  const session: Session = { provider, setProvider, explain };
  return (
    <SessionContext.Provider value={session}>
      <header className="topbar">
        <span className="brand">{provider.display_name}</span>
        <nav aria-label="Dashboard">
          <NavLink to="/" end>
            Bookings
          </NavLink>
          <NavLink to="/hours">Hours</NavLink>
          <NavLink to="/services">Services</NavLink>
          <NavLink to="/calendars">Calendars</NavLink>
          <button type="button" className="secondary" onClick={() => signOut(null)}>
            Sign out
          </button>
        </nav>
      </header>
      <main className="page">
        <Routes>
          <Route path="/" element={<Bookings />} />
          <Route path="/bookings/*" element={<Bookings />} />
          <Route path="/hours" element={<Hours />} />
          <Route path="/services" element={<Services />} />
          <Route path="/calendars" element={<Calendars />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </main>
    </SessionContext.Provider>
  );
}
