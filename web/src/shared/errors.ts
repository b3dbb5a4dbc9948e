// The API's stable error codes as sentences a person reads. A code missing here falls back to
// a sentence by HTTP status, never to the code itself.
const SENTENCES: Record<string, string> = {
  // Booking and scheduling rules
  slot_unavailable: "That time was just taken by someone else. Please pick another time.",
  slot_not_bookable: "That time can no longer be booked. Please pick another time.",
  off_grid: "That time does not start on the service's schedule. Please pick a listed time.",
  outside_working_hours: "That time is outside the provider's working hours.",
  too_soon: "That time is too soon to book. Please pick a later time.",
  beyond_horizon: "That time is too far ahead to book yet.",
  daily_limit_reached: "The provider is fully booked for that day. Please pick another day.",
  too_many_holds:
    "You have too many unpaid bookings open. Pay or cancel one of them before booking again.",
  not_cancellable: "This booking can no longer be cancelled.",
  not_reschedulable: "This booking can no longer be moved: only a confirmed booking that has not started can.",
  reschedule_limit_reached: "This booking has been moved as often as it may be.",
  not_awaiting_approval: "This booking is not waiting for approval any more.",
  idempotency_key_reused: "This request was already used for a different booking. Please try again.",
  invalid_idempotency_key: "The request could not be sent safely. Please try again.",
  booking_pending: "The booking is taking longer than usual. Please try again in a moment.",
  payment_not_payable: "This payment can no longer be made: the booking may have expired or been paid.",
  payment_failed: "The payment did not go through.",
  invalid_timezone: "That time zone is not known. Please choose another.",
  invalid_range: "Those dates do not make a valid range.",
  erasure_raced:
    "New bookings kept arriving while your account was being closed, so nothing was erased. Please try again.",
  range_too_long: "That range of dates is too long to show at once.",
  // Accounts
  invalid_credentials: "That email and password do not match an account.",
  email_taken: "An account with that email already exists. Please sign in instead.",
  not_authenticated: "Please sign in to continue.",
  invalid_token: "Your session has ended. Please sign in again.",
  login_backoff: "Too many sign-in attempts. Please wait a moment and try again.",
  invalid_phone: "That phone number is not valid.",
  phone_required: "A phone number is needed for text messages.",
  providers_only: "Only providers can do that.",
  provider_only: "Only the provider can do that.",
  admins_only: "Only administrators can do that.",
  // Not found
  not_found: "That page or item does not exist.",
  appointment_not_found: "That booking could not be found.",
  provider_not_found: "That provider could not be found.",
  service_not_found: "That service could not be found.",
  payment_not_found: "That payment could not be found.",
  user_not_found: "That account could not be found.",
  invite_not_found: "The calendar invite for this booking is not available.",
  no_invite: "This booking has no calendar invite yet.",
  // Limits and outages
  rate_limited: "Too many requests. Please wait a moment and try again.",
  body_too_large: "What you sent is too large.",
  database_unavailable: "The service is briefly unavailable. Please try again shortly.",
  settings_changing: "The provider is changing their schedule right now. Please try again in a moment.",
  form_expected: "The sign-in form could not be sent. Please reload the page and try again.",
  booking_engine_unavailable: "Bookings are briefly unavailable. Please try again shortly.",
  network_error: "The server cannot be reached. Check your connection and try again.",
  method_not_allowed: "That action is not possible here.",
};

const BY_STATUS: Record<number, string> = {
  400: "The request was not understood.",
  401: "Please sign in to continue.",
  403: "You are not allowed to do that.",
  404: "That could not be found.",
  409: "That conflicts with a change made meanwhile. Please reload and try again.",
  413: "What you sent is too large.",
  422: "Some of what you entered is not valid.",
  429: "Too many requests. Please wait a moment and try again.",
  503: "The service is briefly unavailable. Please try again shortly.",
};

function capitalised(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const sentence = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** The sentence for an API refusal: ours for a known code; the API's own `detail` (already a
 * sentence) for a validation error; else one by status. */
export function sentenceFor(code: string, detail: string, status: number): string {
  const known = SENTENCES[code];
  if (known) return known;
  if (code === "validation_error" && detail) return capitalised(detail);
  if (code.endsWith("_not_found")) return "That could not be found.";
  return BY_STATUS[status] ?? "Something went wrong. Please try again.";
}

export const KNOWN_CODES: readonly string[] = Object.keys(SENTENCES);
