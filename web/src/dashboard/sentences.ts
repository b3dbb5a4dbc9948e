// The refusals only the dashboard meets, as sentences; everything else goes to the shared table.
import { ApiError, messageOf } from "../shared/api";

const DASHBOARD_SENTENCES: Record<string, string> = {
  providers_only:
    "This account is not a provider account. Sign in with the account you offer services with.",
  provider_only: "Only the provider of this booking can approve or decline it.",
  holiday_exists: "That date is already a holiday.",
  holiday_not_found: "That holiday was already removed.",
  override_not_found: "That date already has its usual hours.",
  service_not_found: "That service could not be found. It may have been removed.",
  settings_changing:
    "Your settings were changing while the free times were read. Please try again.",
  calendar_connection_not_found: "That calendar connection no longer exists.",
  calendar_connection_broken: "This calendar connection is broken. Connect it again first.",
  calendar_unavailable: "The calendar server cannot be reached right now. Please try again later.",
  calendar_refused: "The calendar server refused the request.",
  calendar_login_refused: "The calendar server refused the sign-in. Check the user name and password.",
  not_cancellable: "This booking can no longer be cancelled: it has already ended or been cancelled.",
  not_awaiting_approval:
    "This booking is not waiting for approval any more: it was decided, cancelled or it expired.",
  invalid_token: "Your session has ended. Please sign in again.",
};

/** What went wrong, as a sentence a provider reads; never a bare code. */
export function say(err: unknown): string {
  if (err instanceof ApiError) {
    const ours = DASHBOARD_SENTENCES[err.code];
    if (ours) return ours;
    if (err.code === "validation_error" && err.detail) return readable(err.detail);
  }
  return messageOf(err);
}

/** Whether the refusal means the session is over (sign in again). */
export function signedOut(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

/** pydantic's validation detail without its "Value error," prefixes, as one sentence. */
function readable(detail: string): string {
  const text = detail.replace(/Value error, /g, "").trim();
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
