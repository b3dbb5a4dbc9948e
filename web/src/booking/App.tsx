import { Link, NavLink, Route, Routes } from "react-router-dom";

import { AuthProvider, useAuth } from "../shared/auth";
import { BookingPage } from "./BookingPage";
import { BookPage } from "./BookPage";
import { FindProvider } from "./FindProvider";
import { MyBookings } from "./MyBookings";

function TopBar() {
  const { user, signOut } = useAuth();
  return (
    <header className="topbar">
      <Link to="/" className="brand">
        Booking
      </Link>
      <nav aria-label="Main">
        <NavLink to="/">Find a provider</NavLink>
        <NavLink to="/bookings" end>
          My bookings
        </NavLink>
        {user && (
          <>
            <span className="muted">{user.full_name}</span>
            <button type="button" className="secondary" onClick={signOut}>
              Sign out
            </button>
          </>
        )}
      </nav>
    </header>
  );
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Find a provider</Link>
      </p>
    </>
  );
}

export function App() {
  return (
    <AuthProvider>
      <TopBar />
      <main className="page">
        <Routes>
          <Route path="/" element={<FindProvider />} />
          <Route path="/book/:providerId" element={<BookPage />} />
          <Route path="/bookings" element={<MyBookings />} />
          <Route path="/bookings/:bookingId" element={<BookingPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </AuthProvider>
  );
}
