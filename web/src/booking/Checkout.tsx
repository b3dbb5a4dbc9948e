// Paying for a held booking: the sandbox checkout on the embedded default, Stripe's Payment
// Element (StripePayment, its own chunk) with PAYMENT_GATEWAY=stripe.
import { lazy, Suspense, useState } from "react";

import { apiJson, messageOf } from "../shared/api";
import { moneyLabel, timeLabel } from "../shared/time";
import type { Appointment } from "../shared/types";

const StripePayment = lazy(() => import("./StripePayment"));

interface SandboxAnswer {
  paid: boolean;
  booking: { id: string; status: string | null; payment_failure: string | null };
}

export function Checkout({
  booking,
  zone,
  confirming,
  onAnswer,
  onRefresh,
}: {
  booking: Appointment;
  zone: string;
  /** Paid: waiting for the booking to act on the payment. */
  confirming: boolean;
  /** The booking as it is after a payment attempt, and whether the payment went through. */
  onAnswer(booking: Appointment, paid: boolean): void;
  onRefresh(): Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const payment = booking.payment;
  if (!payment) return null;
  const amount = moneyLabel({ amount: payment.amount, currency: payment.currency });
  const holdUntil = booking.hold_expires_at ? timeLabel(booking.hold_expires_at, zone) : null;

  async function paidAtStripe() {
    const read = await apiJson<Appointment>(
      `/appointments/${booking.id}?timezone=${encodeURIComponent(zone)}`,
    );
    onAnswer(read, true);
  }

  async function pay(outcome: "succeed" | "fail") {
    if (!payment) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await apiJson<SandboxAnswer>(
        `/sandbox/payments/${payment.intent_id}/${outcome}`,
        { method: "POST" },
      );
      const read = await apiJson<Appointment>(
        `/appointments/${booking.id}?timezone=${encodeURIComponent(zone)}`,
      );
      onAnswer(read, answer.paid);
    } catch (err) {
      setError(messageOf(err));
      await onRefresh();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel checkout" aria-labelledby="pay-heading">
      <h3 id="pay-heading">Pay {amount}</h3>
      {holdUntil && (
        <p className="muted">This time is held for you until {holdUntil}. Pay before then.</p>
      )}
      {booking.payment_failure && (
        <p className="error" role="alert">
          {booking.payment_failure} You can try again.
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {confirming ? (
        <p className="notice" role="status">
          Payment received. Confirming your booking…
        </p>
      ) : payment.gateway === "sandbox" ? (
        <>
          <p className="muted">Test checkout: no card is charged.</p>
          <div className="row">
            <button type="button" disabled={busy} onClick={() => pay("succeed")}>
              {busy ? "Paying…" : `Pay ${amount}`}
            </button>
            <button
              type="button"
              className="secondary"
              disabled={busy}
              onClick={() => pay("fail")}
            >
              Try a declined card
            </button>
          </div>
        </>
      ) : payment.gateway === "stripe" && payment.client_secret ? (
        <Suspense fallback={<p aria-busy="true">Loading the card form…</p>}>
          <StripePayment
            clientSecret={payment.client_secret}
            amount={amount}
            onPaid={paidAtStripe}
          />
        </Suspense>
      ) : (
        <p className="error">
          Card payments on this page are not available. Your time stays held until{" "}
          {holdUntil ?? "the hold expires"}.
        </p>
      )}
    </section>
  );
}
