// Paying with Stripe's Payment Element (PAYMENT_GATEWAY=stripe). Its own chunk, loaded only
// at a Stripe checkout: Stripe.js and its React bindings stay out of the first view.
import { Elements, PaymentElement, useElements, useStripe } from "@stripe/react-stripe-js";
import { loadStripe, type Stripe } from "@stripe/stripe-js";
import { type FormEvent, useEffect, useState } from "react";

import { apiJson, messageOf } from "../shared/api";
import type { PaymentConfig } from "../shared/types";

const NOT_CONFIGURED =
  "Card payments are not set up on this site yet. Your time stays held until the hold expires.";
const NOT_SENT = "The payment could not be sent. Check your connection, then try again.";
const NOT_LOADED =
  "The card form could not be loaded. Check your connection, then reload the page.";

// loadStripe loads Stripe.js once per page; one Stripe instance per publishable key.
const stripes = new Map<string, Promise<Stripe | null>>();

function stripeFor(publishableKey: string): Promise<Stripe | null> {
  let stripe = stripes.get(publishableKey);
  if (!stripe) {
    stripe = loadStripe(publishableKey);
    stripes.set(publishableKey, stripe);
  }
  return stripe;
}

export default function StripePayment({
  clientSecret,
  amount,
  onPaid,
}: {
  clientSecret: string;
  amount: string;
  /** Stripe took the payment; the booking confirms once the webhook reaches it. */
  onPaid(): Promise<void>;
}) {
  const [stripe, setStripe] = useState<Stripe | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    (async () => {
      let config: PaymentConfig;
      try {
        config = await apiJson<PaymentConfig>("/payments/config");
      } catch (err) {
        if (current) setProblem(messageOf(err));
        return;
      }
      if (!config.publishable_key) {
        if (current) setProblem(NOT_CONFIGURED);
        return;
      }
      try {
        const loaded = await stripeFor(config.publishable_key);
        if (current) {
          if (loaded) setStripe(loaded);
          else setProblem(NOT_LOADED);
        }
      } catch {
        stripes.delete(config.publishable_key);
        if (current) setProblem(NOT_LOADED);
      }
    })();
    return () => {
      current = false;
    };
  }, []);

  if (problem) {
    return (
      <p className="error" role="alert">
        {problem}
      </p>
    );
  }
  if (!stripe) return <p aria-busy="true">Loading the card form…</p>;
  return (
    <Elements stripe={stripe} options={{ clientSecret }}>
      <CardForm amount={amount} onPaid={onPaid} />
    </Elements>
  );
}

function CardForm({ amount, onPaid }: { amount: string; onPaid(): Promise<void> }) {
  const stripe = useStripe();
  const elements = useElements();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function pay(event: FormEvent) {
    event.preventDefault();
    if (!stripe || !elements) return;
    setBusy(true);
    setError(null);
    let paid = false;
    try {
      const result = await stripe.confirmPayment({
        elements,
        // Cards settle here; a payment method that must leave the page comes back to it.
        confirmParams: { return_url: window.location.href },
        redirect: "if_required",
      });
      if (result.error) {
        setError(result.error.message ?? "The payment did not go through. Try again.");
      } else {
        paid = true;
      }
    } catch {
      setError(NOT_SENT);
    }
    if (paid) {
      try {
        await onPaid();
      } catch (err) {
        setError(messageOf(err));
      }
    }
    setBusy(false);
  }

  return (
    <form onSubmit={pay} aria-label="Card payment">
      <PaymentElement />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        <button type="submit" disabled={!stripe || !elements || busy}>
          {busy ? "Paying…" : `Pay ${amount}`}
        </button>
      </div>
    </form>
  );
}
