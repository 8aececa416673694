"""Signing in, the user menu, tokens and the admin pages, in headless Chromium against a real
``trackledger server --auth``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

expect = pytest.importorskip("playwright.async_api").expect

ADMIN = ("root", "root-password-1")
ML = "/api/2.0/mlflow"


async def test_sign_in_menu_tokens_users_permissions_sign_out(tmp_path: Path, page, shots: Path):
    env = {"TRACKLEDGER_ADMIN_USERNAME": ADMIN[0], "TRACKLEDGER_ADMIN_PASSWORD": ADMIN[1]}
    server = ServerProcess(tmp_path, None, "--auth", env=env).start()
    base = server.url
    try:
        made = loopback.post(f"{base}{ML}/experiments/create", json={"name": "team"}, auth=ADMIN)
        experiment_id = made.json()["experiment_id"]

        # No session: the page asks to sign in, and a wrong password says so.
        await page.goto(f"{base}/")
        form = page.locator("form.login")
        await expect(form).to_be_visible()
        await form.locator("input[name=username]").fill(ADMIN[0])
        await form.locator("input[name=password]").fill("wrong-password!")
        await form.get_by_role("button", name="Sign in").click()
        await expect(form.locator(".error")).to_contain_text("Invalid")
        await form.locator("input[name=password]").fill(ADMIN[1])
        await form.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#experiments")).to_contain_text("team")
        await expect(page.locator("#user-menu summary")).to_have_text("root (admin)")
        cookies = {c["name"]: c for c in await page.context.cookies()}
        session = cookies["trackledger_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        await page.screenshot(path=shots / "auth-signed-in.png", full_page=True)

        # A script on the page that changes something without the CSRF token is refused.
        status = await page.evaluate(
            """async () => (await fetch('/api/2.0/mlflow/experiments/create', {method: 'POST',
               headers: {'Content-Type': 'application/json'}, body: '{"name": "x"}'})).status"""
        )
        assert status == 403

        # Admin pages: a new user, then a grant for them.
        await page.goto(f"{base}/#/admin/users")
        await page.locator("input[name=new-username]").fill("carol")
        await page.locator("input[name=new-password]").fill("carols-password")
        await page.get_by_role("button", name="Create user").click()
        await expect(page.locator("table.grid tbody")).to_contain_text("carol")
        await page.goto(f"{base}/#/admin/permissions")
        await page.locator("select[name=user]").select_option("carol")
        await expect(page.locator("#permissions-of")).to_have_text("Grants of carol")
        await page.locator("input[name=resource-id]").fill(experiment_id)
        await page.locator("select[name=permission]").select_option("EDIT")
        await page.get_by_role("button", name="Grant").click()
        await expect(page.locator("table.grid tbody")).to_contain_text("EDIT")
        got = loopback.get(
            f"{base}/api/3.0/mlflow/users/permissions/get",
            params={
                "username": "carol",
                "resource_type": "experiment",
                "resource_id": experiment_id,
            },
            auth=ADMIN,
        ).json()
        assert got == {"allowed": True, "permission": "EDIT"}
        await page.screenshot(path=shots / "auth-permissions.png", full_page=True)

        # A token, shown once, that acts as the admin.
        await page.goto(f"{base}/#/tokens")
        await page.locator("input[name=token-name]").fill("ci")
        await page.get_by_role("button", name="Create token").click()
        token = (await page.locator("code.token").inner_text()).strip()
        await expect(page.locator("table.grid tbody")).to_contain_text("ci")
        me = loopback.get(f"{base}{ML}/users/current", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user"]["username"] == "root"

        # Signing out ends the session: the page asks again.
        await page.locator("#user-menu summary").click()
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("form.login")).to_be_visible()
        # (As the UI asks: without its header a 401 brings up the browser's own dialog.)
        answer = await page.evaluate(
            """async () => (await fetch('/api/2.0/mlflow/users/current',
               {headers: {'X-Trackledger-UI': '1'}})).status"""
        )
        assert answer == 401
    finally:
        server.stop()
