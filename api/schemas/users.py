from __future__ import annotations

import phonenumbers
from pydantic import Field

from api.schemas.auth import UserPublic
from api.schemas.common import Strict
from api.schemas.providers import NO_NUL


class UserMe(UserPublic):
    """The signed-in account with the channels the booking may use to reach it."""

    sms_opt_in: bool
    email_notifications: bool


class UserUpdateMe(Strict):
    """Only the fields sent change; `"phone": null` removes the number (and with it the SMS
    opt-in)."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    # Any readable international form; stored as E.164. Checked by the route, to answer
    # invalid_phone rather than a generic validation error.
    phone: str | None = Field(default=None, max_length=64, examples=["+1 (212) 555-0100"])
    sms_opt_in: bool | None = Field(default=None, description="true needs a phone")
    email_notifications: bool | None = None


def e164(number: str) -> str:
    """The number in E.164, or ValueError saying why it is not a phone number."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as err:
        raise ValueError(
            f"{number!r} is not a phone number in international form, like +12125550100"
        ) from err
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{number!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
