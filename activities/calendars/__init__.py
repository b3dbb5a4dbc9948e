"""Provider calendars: one adapter per vendor behind the CalendarAccount port."""
