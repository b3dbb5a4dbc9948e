import { apiBlob } from "../shared/api";

/** Saves the booking's current invite (GET /appointments/{id}/calendar.ics, signed in). */
export async function downloadInvite(bookingId: string): Promise<void> {
  const blob = await apiBlob(`/appointments/${bookingId}/calendar.ics`, {
    headers: { Accept: "text/calendar" },
  });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `booking-${bookingId}.ics`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
