"""``sathach users``: create-admin (prompted or from the environment), add-org-unit, import."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from webapp.cli import main
from webapp.extensions import db
from webapp.models import OrgUnit, OrgUnitKind, Role, User


@pytest.fixture
def invoke(runner, database):
    """Run ``sathach ...`` against the test's database."""

    def run(*args, env=None, input=None):
        environment = {
            "SATHACH_DATABASE_URL": database.url,
            "SATHACH_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "SATHACH_ADMIN_PASSWORD": "",
        }
        environment.update(env or {})
        return runner.invoke(main, list(args), env=environment, input=input)

    return run


def test_create_admin_with_a_new_province_and_the_password_from_env(app, invoke, login_with):
    result = invoke(
        "users",
        "create-admin",
        "--username",
        "Root",
        "--org-unit",
        "hn",
        "--org-unit-name",
        "Hà Nội",
        "--full-name",
        "Quản Trị",
        env={"SATHACH_ADMIN_PASSWORD": "a-strong-secret-1"},
    )
    assert result.exit_code == 0, result.output
    assert "Admin created: root (HN)" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "root"))
        assert user.role is Role.ADMIN
        assert user.full_name == "Quản Trị"
        assert not user.must_change_password
        unit = db.session.get(OrgUnit, user.org_unit_id)
        assert (unit.code, unit.kind) == ("HN", OrgUnitKind.PROVINCE)
    client = app.test_client()
    assert login_with(client, "root", "a-strong-secret-1").status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_create_admin_prompts_for_the_password_twice(app, invoke, world):
    result = invoke(
        "users",
        "create-admin",
        "--username",
        "second",
        "--org-unit",
        "HN",
        input="another-secret-2\nanother-secret-2\n",
    )
    assert result.exit_code == 0, result.output
    assert "another-secret-2" not in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "second"))
        assert user.org_unit_id == world.units["HN"]


def test_create_admin_refuses_a_short_password_and_a_taken_name(invoke, world):
    result = invoke(
        "users",
        "create-admin",
        "--username",
        "third",
        "--org-unit",
        "HN",
        env={"SATHACH_ADMIN_PASSWORD": "short"},
    )
    assert result.exit_code == 1
    assert "Mật khẩu phải có ít nhất 8 ký tự." in result.output
    result = invoke(
        "users",
        "create-admin",
        "--username",
        "admin_hn",
        "--org-unit",
        "HN",
        env={"SATHACH_ADMIN_PASSWORD": "long-enough-pw"},
    )
    assert result.exit_code == 1
    assert "Tên đăng nhập admin_hn đã được dùng." in result.output


def test_create_admin_needs_an_existing_unit_or_a_name(invoke, world):
    result = invoke(
        "users",
        "create-admin",
        "--username",
        "third",
        "--org-unit",
        "NOWHERE",
        env={"SATHACH_ADMIN_PASSWORD": "long-enough-pw"},
    )
    assert result.exit_code == 1
    assert "--org-unit-name" in result.output


def test_add_org_unit_province_then_commune(app, invoke):
    assert invoke("users", "add-org-unit", "--code", "DN", "--name", "Đà Nẵng").exit_code == 0
    result = invoke(
        "users",
        "add-org-unit",
        "--code",
        "DN-X1",
        "--name",
        "Xã A",
        "--kind",
        "commune",
        "--parent",
        "DN",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        commune = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "DN-X1"))
        assert commune.parent.code == "DN"


def test_import_prints_the_temporary_passwords(app, invoke, world, tmp_path, login_with):
    source = tmp_path / "accounts.csv"
    source.write_text(
        "username,full_name,org_unit,role,email\nnew.one,Người Mới,HN-X1,learner,\n",
        encoding="utf-8",
    )
    result = invoke("users", "import", str(source))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["username", "temporary_password"]
    assert rows[1][0] == "new.one"
    assert login_with(app.test_client(), "new.one", rows[1][1]).status_code == 302


def test_import_writes_passwords_to_a_private_file(invoke, world, tmp_path):
    source = tmp_path / "accounts.csv"
    source.write_text(
        "username,full_name,org_unit,role,email\nnew.two,Người Mới,HP-X1,manager,\n",
        encoding="utf-8",
    )
    out = tmp_path / "passwords.csv"
    result = invoke("users", "import", str(source), "--passwords-out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o077 == 0
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("new.two,")


def test_import_with_errors_names_file_row_and_column_and_imports_nothing(
    app, invoke, world, tmp_path
):
    source = tmp_path / "accounts.csv"
    source.write_text(
        "username,full_name,org_unit,role,email\nfine.one,Tên,HN-X1,learner,\n"
        "fine.two,Tên,HN-X1,boss,\n",
        encoding="utf-8",
    )
    result = invoke("users", "import", str(source))
    assert result.exit_code == 1
    assert f"{source}:3 [role]: Vai trò 'boss' không hợp lệ" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "fine.one")) is None
