"""Bulk import of accounts from CSV: all or nothing, every error named by row and column.

Messages are Vietnamese: the app's default locale applies inside an app context too.
"""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from webapp.exceptions import CsvImportError, PermissionDeniedError, RowError
from webapp.extensions import db
from webapp.models import Role, User
from webapp.services.csv_import import decode_csv_upload, import_users_csv

HEADER = "username,full_name,org_unit,role,email\n"
FAST = "pbkdf2:sha256:1000"


def _count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def _actor(session, world, name="admin_hn"):
    return session.get(User, world.users[name])


def test_a_good_file_creates_every_account(app, session, world):
    text = HEADER + (
        "tran.thi.b,Trần Thị B,HN-X1,learner,b@example.vn\n"
        'le.van.c,"Lê Văn C, phó chủ tịch",hn-x2,Manager,\n'
    )
    result = import_users_csv(session, _actor(session, world), text, hash_method=FAST)
    assert [account.username for account in result.accounts] == ["tran.thi.b", "le.van.c"]
    assert all(len(account.temporary_password or "") == 10 for account in result.accounts)
    user = session.scalar(select(User).where(User.username == "le.van.c"))
    assert user.full_name == "Lê Văn C, phó chủ tịch"
    assert user.role is Role.MANAGER
    assert user.email is None
    assert user.org_unit_id == world.units["HN-X2"]
    assert user.must_change_password


def test_one_bad_row_rejects_the_whole_file_with_every_error(app, session, world):
    before = _count_users(app)
    text = HEADER + (
        "good.one,Người Tốt,HN-X1,learner,good@example.vn\n"  # row 2: fine
        "Bad Name!,Người Xấu,HN-X1,learner,\n"  # row 3: username
        "good.one,Trùng Tên,HN-X1,learner,\n"  # row 4: duplicate of row 2
        "third,,NOWHERE,teacher,not-an-email\n"  # row 5: name, unit, role, email
        "learner_x1,Đã Có,HN-X1,learner,\n"  # row 6: taken
        "fourth,Ngoài Vùng,HP-X1,learner,\n"  # row 7: outside the scope
        "short,row\n"  # row 8: wrong number of values
    )
    with pytest.raises(CsvImportError) as caught:
        import_users_csv(session, _actor(session, world), text, hash_method=FAST)
    problems = [(error.row, error.column) for error in caught.value.errors]
    assert problems == [
        (3, "username"),
        (4, "username"),
        (5, "full_name"),
        (5, "org_unit"),
        (5, "role"),
        (5, "email"),
        (6, "username"),
        (7, "org_unit"),
        (8, ""),
    ]
    assert caught.value.message == "9 lỗi: không tài khoản nào được nhập."
    session.rollback()
    assert _count_users(app) == before


def test_messages_name_the_problem(session, world):
    text = HEADER + "xa1,Tên,HN-X1,teacher,\n"
    with pytest.raises(CsvImportError) as caught:
        import_users_csv(session, _actor(session, world), text, hash_method=FAST)
    (error,) = caught.value.errors
    assert error == RowError(
        2,
        "role",
        "Vai trò 'teacher' không hợp lệ: dùng một trong learner, psychometrician, manager, admin.",
    )


def test_quoted_newlines_keep_the_row_numbers_of_the_file(session, world):
    text = HEADER + 'ok.user,"Tên\nhai dòng",HN-X1,learner,\nbad user,Tên,HN-X1,learner,\n'
    with pytest.raises(CsvImportError) as caught:
        import_users_csv(session, _actor(session, world), text, hash_method=FAST)
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "username")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Tệp rỗng: dòng đầu tiên phải là tiêu đề"),
        ("user,name,unit,role,email\n", "Dòng tiêu đề phải là username,full_name"),
        (HEADER, "Tệp không có tài khoản nào sau dòng tiêu đề."),
    ],
)
def test_header_and_empty_files(session, world, text, message):
    with pytest.raises(CsvImportError) as caught:
        import_users_csv(session, _actor(session, world), text, hash_method=FAST)
    assert message in caught.value.errors[0].message


def test_excel_byte_order_mark_is_accepted_and_other_encodings_rejected():
    assert decode_csv_upload("\ufeffusername".encode()) == "username"
    with pytest.raises(CsvImportError) as caught:
        decode_csv_upload("Nguyễn".encode("cp1258", errors="ignore") + b"\xff")
    assert "UTF-8" in caught.value.errors[0].message


def test_only_admins_import(session, world):
    with pytest.raises(PermissionDeniedError):
        import_users_csv(session, _actor(session, world, "manager_hn"), HEADER, hash_method=FAST)


def test_commune_admin_import_outside_its_commune_is_refused(session, world):
    text = HEADER + "nam1,Tên,HN-X2,learner,\n"
    with pytest.raises(CsvImportError) as caught:
        import_users_csv(session, _actor(session, world, "admin_x1"), text, hash_method=FAST)
    assert caught.value.errors == [
        RowError(2, "org_unit", "Đơn vị HN-X2 nằm ngoài phạm vi của bạn.")
    ]


def _upload(client, csrf, body: bytes, filename="users.csv"):
    token = csrf(client, "/admin/users/import")
    return client.post(
        "/admin/users/import",
        data={"csrf_token": token, "file": (io.BytesIO(body), filename)},
        content_type="multipart/form-data",
    )


def test_upload_page_shows_row_errors_in_vietnamese_and_imports_nothing(
    app, client, auth, world, csrf
):
    auth.login("admin_hn")
    before = _count_users(app)
    body = (HEADER + "ok.user,Tên,HN-X1,learner,\nok.user,Tên,HN-X1,learner,\n").encode()
    response = _upload(client, csrf, body)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "1 lỗi: không tài khoản nào được nhập." in html
    assert "<td>3</td><td>username</td><td>ok.user đã có ở dòng 2.</td>" in html
    assert _count_users(app) == before


def test_upload_page_creates_the_accounts_and_shows_their_passwords(app, client, auth, world, csrf):
    auth.login("admin_hn")
    body = "\ufeff" + HEADER + "pham.d,Phạm D,HN-X1,learner,\npham.e,Phạm E,HN-X2,admin,\n"
    response = _upload(client, csrf, body.encode())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Đã nhập 2 tài khoản." in html
    assert html.count('<code class="secret">') == 2
    with app.app_context():
        created = db.session.scalars(select(User.username).where(User.username.like("pham.%")))
        assert sorted(created) == ["pham.d", "pham.e"]


def test_upload_of_a_non_csv_file_is_refused(client, auth, world, csrf):
    auth.login("admin_hn")
    response = _upload(client, csrf, b"\x89PNG", filename="photo.png")
    assert response.status_code == 400
    assert "Tệp phải có đuôi .csv." in response.get_data(as_text=True)


def test_temporary_passwords_use_the_fast_hash_and_chosen_ones_the_configured_one(
    make_app, world, login_with, csrf
):
    app = make_app(PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        session = db.session
        text = HEADER + "".join(f"bulk{n:03d},Người {n},HN-X1,learner,\n" for n in range(50))
        started = time.perf_counter()
        result = import_users_csv(session, _actor(session, world), text)
        elapsed = time.perf_counter() - started
        user = session.scalar(select(User).where(User.username == "bulk007"))
        assert user.password_hash.startswith("pbkdf2:sha256:10000$")
    assert elapsed < 5  # scrypt would take about 0.1 s per account
    client = app.test_client()
    temporary = result.accounts[7].temporary_password
    assert login_with(client, "bulk007", temporary).status_code == 302
    token = csrf(client, "/auth/password")
    client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": temporary,
            "new_password": "my-own-secret-7",
            "confirm_password": "my-own-secret-7",
        },
    )
    with app.app_context():
        changed = db.session.scalar(select(User).where(User.username == "bulk007"))
        assert changed.password_hash.startswith("scrypt:")
