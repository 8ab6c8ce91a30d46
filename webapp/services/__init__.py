"""Use cases between the routes and the ORM: each takes the session (and the acting user) and
returns ORM rows or frozen dataclasses; errors are :mod:`webapp.exceptions`.

Modules: :mod:`~webapp.services.accounts` (users, login, passwords), :mod:`~.org_units`
(hierarchy and scoping), :mod:`~.csv_import`, :mod:`~.tokens` (login sessions, API tokens),
:mod:`~.rate_limit`, :mod:`~.audit`, :mod:`~.passwords`, :mod:`~.demo`.
"""

from __future__ import annotations

from webapp.services.accounts import (
    CreatedAccount,
    authenticate,
    change_password,
    create_user,
    find_user_by_username,
    get_user,
    get_user_for_actor,
    list_users,
    set_user_active,
)
from webapp.services.audit import list_audit_entries, record_audit, record_personal_data_access
from webapp.services.csv_import import ImportResult, import_users_csv
from webapp.services.demo import DemoAccounts, ensure_demo_accounts
from webapp.services.org_units import (
    create_org_unit,
    find_org_unit_by_code,
    is_org_unit_in_scope,
    list_org_units,
    org_unit_subtree_ids,
    require_org_unit_in_scope,
    require_user_in_scope,
    visible_org_unit_ids,
)
from webapp.services.tokens import authenticate_api_token, issue_api_token

__all__ = [
    "CreatedAccount",
    "DemoAccounts",
    "ImportResult",
    "authenticate",
    "authenticate_api_token",
    "change_password",
    "create_org_unit",
    "create_user",
    "ensure_demo_accounts",
    "find_org_unit_by_code",
    "find_user_by_username",
    "get_user",
    "get_user_for_actor",
    "import_users_csv",
    "is_org_unit_in_scope",
    "issue_api_token",
    "list_audit_entries",
    "list_org_units",
    "list_users",
    "org_unit_subtree_ids",
    "record_audit",
    "record_personal_data_access",
    "require_org_unit_in_scope",
    "require_user_in_scope",
    "set_user_active",
    "visible_org_unit_ids",
]
