from __future__ import annotations

import uuid
from typing import Any

import httpx


async def sign_up(
    api: httpx.AsyncClient, *, role: str = "customer", **extra: Any
) -> dict[str, str]:
    """Register and log in a fresh account; returns the Authorization header."""
    email = f"{role}-{uuid.uuid4().hex[:12]}@example.com"
    body = {
        "email": email,
        "password": "correct horse battery",
        "full_name": "Pat Doe",
        "role": role,
    }
    response = await api.post("/auth/register", json=body | extra)
    assert response.status_code == 201, response.text
    login = await api.post(
        "/auth/login", data={"username": email, "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body
