"""The browser's Stripe, offline: localstripe's fake Stripe.js with a Payment Element shim, and
Stripe's API answered by localstripe (see FakeStripeJs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import localstripe as localstripe_package
from playwright.sync_api import BrowserContext, Route

# What @stripe/stripe-js 10.2.1 (web/package.json) injects: Stripe.js of its release train.
STRIPE_JS = "https://js.stripe.com/endive/stripe.js"
STRIPE_API = "https://api.stripe.com"
# localstripe's fake Stripe.js, as it serves it at /js.stripe.com/v3/.
LOCALSTRIPE_JS = Path(localstripe_package.__file__).parent / "localstripe-v3.js"

# Before localstripe's fake Stripe.js: it talks to the origin its script came from, which would
# be js.stripe.com here; the page's CSP lets it reach api.stripe.com, as Stripe.js does.
LOCALSTRIPE_ORIGIN_PRELUDE = f"""
Object.defineProperty(document, "currentScript", {{
  configurable: true,
  get: () => ({{ src: "{STRIPE_API}/js.stripe.com/v3/" }}),
}});
"""
LOCALSTRIPE_ORIGIN_POSTLUDE = "\n;delete document.currentScript;\n"
# Appended to localstripe's fake Stripe.js (see FakeStripeJs).
PAYMENT_ELEMENT_SHIM = """
;(() => {
  const LocalStripe = window.Stripe;
  const shim = { publishableKey: null, clientSecrets: [] };
  window.__stripeShim = shim;
  window.Stripe = (publishableKey) => {
    const stripe = LocalStripe(publishableKey);
    shim.publishableKey = publishableKey;
    const localElements = stripe.elements;
    stripe.elements = (options = {}) => {
      const elements = localElements();
      elements.clientSecret = options.clientSecret;
      shim.clientSecrets.push(options.clientSecret);
      const createCard = elements.create.bind(elements);
      elements.create = (type, elementOptions) => {
        if (type !== "payment") throw new Error(`the shim has no ${type} element`);
        const card = createCard("card", elementOptions);
        card.off = (event, handler) => {
          card.listeners[event] = (card.listeners[event] || []).filter((h) => h !== handler);
        };
        card.update = () => {};
        return card;
      };
      elements.update = () => {};
      elements.submit = async () => ({});
      return elements;
    };
    // Stripe.js confirms with the publishable key and the client secret, the card as
    // payment_method_data, then handles what the intent asks next.
    stripe.confirmPayment = async ({ elements, redirect }) => {
      if (redirect !== "if_required") throw new Error("the shim only confirms in place");
      const card = elements.getElement("payment");
      if (!card || !card.value) return { error: { message: "Your card number is incomplete." } };
      const secret = elements.clientSecret;
      const body = new URLSearchParams({
        key: publishableKey,
        client_secret: secret,
        "payment_method_data[type]": "card",
      });
      for (const [field, value] of Object.entries(card.value.card)) {
        body.set(`payment_method_data[card][${field}]`, value);
      }
      const intentId = secret.match(/^(pi_\\w+)_secret_/)[1];
      const response = await fetch(`{STRIPE_API}/v1/payment_intents/${intentId}/confirm`, {
        method: "POST",
        body,
      });
      const answer = await response.json();
      if (!response.ok) return { error: answer.error };
      if (answer.status !== "requires_action") return { paymentIntent: answer };
      // 3-D Secure: localstripe's own confirmCardPayment asks in a modal, then authenticates.
      const authenticated = await stripe.confirmCardPayment(secret);
      if (authenticated.error || authenticated.paymentIntent.status === "succeeded") {
        return authenticated;
      }
      return { error: authenticated.paymentIntent.last_payment_error };
    };
    return stripe;
  };
  window.Stripe.version = "endive";
})();
""".replace("{STRIPE_API}", STRIPE_API)


def accept_confirm_from_stripe_js() -> None:
    """Fill two gaps to Stripe in localstripe (run in its child process, before it serves).

    Stripe.js confirms a payment intent with the publishable key, the intent's client secret
    and the card as `payment_method_data`; localstripe takes only the secret key there, and
    only an attached payment method. And Stripe declines a charge on every card of its decline
    list (4000000000000002 and the like); localstripe declines those only when attached to a
    customer, which a booking's payment never is.
    """
    import re

    from aiohttp import web
    from localstripe import resources, server
    from localstripe.errors import UserError

    charging_is_declined = resources.PaymentMethod._charging_is_declined
    resources.PaymentMethod._charging_is_declined = lambda self: (
        charging_is_declined(self) or self._attaching_is_declined()
    )
    confirm = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")

    @web.middleware
    async def confirm_with_publishable_key(request: web.Request, handler: Any) -> Any:
        found = confirm.match(request.path)
        if request.method != "POST" or found is None:
            return await handler(request)
        data = await server.get_post_data(request, remove_auth=False) or {}
        key = data.get("key")
        if not (isinstance(key, str) and key.startswith("pk_")):
            return await handler(request)
        try:
            intent = resources.PaymentIntent._api_retrieve(found[1])
            if data.get("client_secret") != intent.client_secret:
                raise UserError(401, "Unauthorized")
            method_data = data.get("payment_method_data") or {}
            method = resources.PaymentMethod(
                type=method_data.get("type"), card=method_data.get("card")
            )
            intent.payment_method = method.id
            intent._confirm(on_failure_now=intent._report_failure)
        except UserError as err:
            return err.to_response()
        return server.json_response(intent._export())

    # Ahead of localstripe's own authentication, which refuses a publishable key here.
    server.app.middlewares.insert(0, confirm_with_publishable_key)


class FakeStripeJs:
    """Serves the browser's requests to Stripe: Stripe.js itself, and Stripe's API.

    Stripe.js cannot be loaded offline, so the page gets localstripe's own fake Stripe.js (its
    card element: plain inputs) with `PAYMENT_ELEMENT_SHIM` appended. The shim stands in for
    Stripe.js's documented Payment Element API, as the page calls it: `stripe.elements({
    clientSecret})`, `elements.create("payment")` (localstripe's card element) and
    `stripe.confirmPayment({elements, redirect: "if_required"})`, which confirms the intent at
    api.stripe.com as Stripe.js does, and hands a 3-D Secure card to localstripe's
    `confirmCardPayment` (its confirm-or-fail modal). Requests to api.stripe.com (allowed by
    the page's CSP) are answered by localstripe. Every request to js.stripe.com is recorded.
    """

    def __init__(self, localstripe: str, page_origin: str) -> None:
        self.localstripe = localstripe
        self.page_origin = page_origin
        self.script = "".join(
            (
                LOCALSTRIPE_ORIGIN_PRELUDE,
                LOCALSTRIPE_JS.read_text(encoding="utf-8"),
                LOCALSTRIPE_ORIGIN_POSTLUDE,
                PAYMENT_ELEMENT_SHIM,
            )
        )
        self.requested: list[str] = []

    def install(self, context: BrowserContext) -> None:
        context.route("https://js.stripe.com/**", self._stripe_js)
        context.route(f"{STRIPE_API}/**", self._stripe_api)

    def _stripe_js(self, route: Route) -> None:
        self.requested.append(route.request.url)
        if route.request.url != STRIPE_JS:
            route.abort()
            return
        route.fulfill(status=200, content_type="text/javascript", body=self.script)

    def _stripe_api(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        query = f"?{url.query}" if url.query else ""
        response = route.fetch(url=f"{self.localstripe}{url.path}{query}")
        headers = {**response.headers, "access-control-allow-origin": self.page_origin}
        route.fulfill(response=response, headers=headers)
