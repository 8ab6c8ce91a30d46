"""Exam endpoints of API v1: list exams, start or resume a session, read it, answer, read the
result; and the public certificate lookup.

Every call but the certificate lookup needs a learner's Bearer token; a session is only its own
learner's (404 for anyone else). Items carry only what showing them needs: never the key, an
option's score, parameters or statistics.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_babel import get_locale, gettext
from werkzeug.wrappers import Response

from webapp import clock
from webapp.api import api_user, bp, public
from webapp.api.openapi import error_response
from webapp.exams import services
from webapp.exams.certificates import verify_certificate
from webapp.exams.web import pool_cache
from webapp.exceptions import InvalidInputError
from webapp.extensions import db


@bp.get("/exams")
def list_exams() -> Response:
    listings = services.list_exams(db.session, api_user(), now=clock.now())
    locale = str(get_locale() or "vi")
    return jsonify([listing.to_json(locale) for listing in listings])


@bp.post("/exams/<exam_id>/sessions")
def start_session(exam_id: str) -> tuple[Response, int]:
    view, created = services.start_session(
        db.session, pool_cache(), api_user(), exam_id, now=clock.now()
    )
    return jsonify(view.to_json()), 201 if created else 200


@bp.get("/sessions/<int:session_id>")
def get_session(session_id: int) -> Response:
    view = services.get_session_view(
        db.session, pool_cache(), api_user(), session_id, now=clock.now()
    )
    return jsonify(view.to_json())


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInputError(
            gettext('The body must be a JSON object {"position", "item_id", "answer"}.'),
            code="invalid_body",
        )
    missing = [name for name in ("position", "item_id", "answer") if name not in body]
    if missing:
        raise InvalidInputError(
            gettext("Missing fields: %(fields)s.", fields=", ".join(missing)), code="invalid_body"
        )
    return body


@bp.post("/sessions/<int:session_id>/responses")
def post_response(session_id: int) -> Response:
    body = _json_body()
    view = services.submit_answer(
        db.session,
        pool_cache(),
        api_user(),
        session_id,
        position=body["position"],
        item_id=body["item_id"],
        answer=body["answer"],
        now=clock.now(),
    )
    return jsonify(view.to_json())


@bp.get("/sessions/<int:session_id>/result")
def get_result(session_id: int) -> Response:
    outcome = services.session_result(
        db.session, pool_cache(), api_user(), session_id, now=clock.now()
    )
    return jsonify(outcome.to_json())


@bp.get("/certificates/<code>")
@public
def get_certificate(code: str) -> Response:
    return jsonify(verify_certificate(db.session, code).to_json())


_TEXT = {
    "type": "object",
    "properties": {"vi": {"type": "string"}, "en": {"type": ["string", "null"]}},
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Exam": {
        "type": "object",
        "required": ["id", "title", "kind", "adaptive", "time_limit_s", "eligible", "reason"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "kind": {"type": "string", "enum": ["final", "topic_quiz"]},
            "adaptive": {"type": "boolean"},
            "time_limit_s": {"type": ["number", "null"]},
            "topic_id": {"type": ["string", "null"]},
            "eligible": {"type": "boolean"},
            "reason": {
                "type": ["string", "null"],
                "enum": [
                    None,
                    "course_incomplete",
                    "attempts_exhausted",
                    "retake_wait",
                    "already_passed",
                    "inactive",
                ],
            },
        },
    },
    "Item": {
        "type": "object",
        "description": "What showing an item needs; never its key, scores or parameters.",
        "required": ["id", "type", "stem", "options", "media"],
        "properties": {
            "id": {"type": "string"},
            "type": {
                "type": "string",
                "enum": ["single_choice", "multiple_response", "true_false", "ordered"],
            },
            "stem": _TEXT,
            "options": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "text"],
                    "properties": {"id": {"type": "string"}, "text": _TEXT},
                },
            },
            "media": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Feedback": {
        "type": "object",
        "description": "Practice quizzes only: whether the answer was right, and why.",
        "properties": {
            "position": {"type": "integer"},
            "item_id": {"type": "string"},
            "correct": {"type": "boolean"},
            "score": {"type": "integer"},
            "max_score": {"type": "integer"},
            "explanation": _TEXT,
        },
    },
    "ExamSession": {
        "type": "object",
        "required": ["session_id", "status", "position", "time_left_s", "item"],
        "properties": {
            "session_id": {"type": "integer"},
            "exam_id": {"type": "string"},
            "kind": {"type": "string", "enum": ["final", "topic_quiz"]},
            "status": {"type": "string", "enum": ["open", "finished"]},
            "position": {"type": "integer", "description": "1-based position of `item`"},
            "n_answered": {"type": "integer"},
            "max_items": {"type": "integer"},
            "time_left_s": {"type": ["integer", "null"]},
            "item": {"oneOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]},
            "feedback": {"$ref": "#/components/schemas/Feedback"},
            "stop_reason": {"type": ["string", "null"]},
            "time_limit_reached": {"type": "boolean"},
            "result": {"oneOf": [{"$ref": "#/components/schemas/ExamResult"}, {"type": "null"}]},
        },
    },
    "Answer": {
        "type": "object",
        "required": ["position", "item_id", "answer"],
        "properties": {
            "position": {"type": "integer", "minimum": 1},
            "item_id": {"type": "string"},
            "answer": {
                "description": "An option id; a list of option ids for multiple response",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            },
        },
    },
    "Competency": {
        "type": "object",
        "properties": {
            "domain": {"type": "string"},
            "name": _TEXT,
            "n_items": {"type": "integer"},
            "scale_score": {"type": "number"},
            "scale_se": {"type": "number"},
            "level": {"type": "string", "enum": ["strength", "near", "study", "not_assessed"]},
            "topics": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ExamResult": {
        "type": "object",
        "required": [
            "theta",
            "se",
            "scale_score",
            "passed",
            "cut_score",
            "competencies",
            "certificate_code",
        ],
        "properties": {
            "session_id": {"type": "integer"},
            "exam_id": {"type": "string"},
            "theta": {"type": "number"},
            "se": {"type": "number"},
            "scale_score": {"type": "number"},
            "scale_se": {"type": "number"},
            "score_band": {"type": "array", "items": {"type": "number"}},
            "passed": {"type": ["boolean", "null"]},
            "cut_score": {"type": ["number", "null"]},
            "n_scored": {"type": "integer"},
            "stop_reason": {"type": "string"},
            "competencies": {"type": "array", "items": {"$ref": "#/components/schemas/Competency"}},
            "certificate_code": {"type": ["string", "null"]},
        },
    },
    "CertificateStatus": {
        "type": "object",
        "required": ["valid", "holder", "course", "issued_at", "status"],
        "properties": {
            "valid": {"type": "boolean"},
            "code": {"type": "string"},
            "holder": {"type": "string"},
            "course": {"type": "string"},
            "course_en": {"type": ["string", "null"]},
            "course_id": {"type": "string"},
            "issued_at": {"type": "string", "format": "date-time"},
            "status": {"type": "string", "enum": ["valid", "revoked"]},
        },
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_SESSION_ID = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "integer"}}

OPENAPI_PATHS: dict[str, Any] = {
    "/exams": {
        "get": {
            "summary": "The exams open to the learner, with eligibility",
            "operationId": "listExams",
            "responses": {
                "200": {
                    "description": "Final exams and topic quizzes",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Exam"},
                            }
                        }
                    },
                },
                "401": error_response("Missing, invalid or expired token"),
                "403": error_response("Not a learner"),
            },
        }
    },
    "/exams/{exam_id}/sessions": {
        "post": {
            "summary": "Start an exam session, or resume the open one",
            "operationId": "startSession",
            "parameters": [
                {"name": "exam_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "201": _json("ExamSession", "A new session with its first item"),
                "200": _json("ExamSession", "The learner's open session, at its current item"),
                "401": error_response("Missing, invalid or expired token"),
                "403": error_response("Not eligible now; `error` says why"),
                "404": error_response("No such exam"),
            },
        }
    },
    "/sessions/{session_id}": {
        "get": {
            "summary": "The session's state and current item (finalized past its time limit)",
            "operationId": "getSession",
            "parameters": [_SESSION_ID],
            "responses": {
                "200": _json("ExamSession", "The session"),
                "401": error_response("Missing, invalid or expired token"),
                "404": error_response("No such session of this learner"),
            },
        }
    },
    "/sessions/{session_id}/responses": {
        "post": {
            "summary": "Answer the current item; returns the next item or the result",
            "description": "The same position with the same answer again returns the same "
            "reply and stores nothing new. Another answer for an answered position, or an item "
            "or position that is not the current one, gets 409. Past the time limit the "
            "session is finalized and the reply has status `finished` and "
            "`time_limit_reached`.",
            "operationId": "postResponse",
            "parameters": [_SESSION_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}
                },
            },
            "responses": {
                "200": _json("ExamSession", "The next state"),
                "400": error_response("Malformed body or answer"),
                "401": error_response("Missing, invalid or expired token"),
                "404": error_response("No such session of this learner"),
                "409": error_response(
                    "already_answered, wrong_item, wrong_position or session_finished"
                ),
            },
        }
    },
    "/sessions/{session_id}/result": {
        "get": {
            "summary": "The result of a finished session",
            "operationId": "getResult",
            "parameters": [_SESSION_ID],
            "responses": {
                "200": _json("ExamResult", "Scores, pass/fail, competency profile"),
                "401": error_response("Missing, invalid or expired token"),
                "404": error_response("No such session of this learner"),
                "409": error_response("The session is still open"),
            },
        }
    },
    "/certificates/{code}": {
        "get": {
            "summary": "Public verification of a certificate",
            "operationId": "getCertificate",
            "security": [],
            "parameters": [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _json("CertificateStatus", "The certificate's holder, course and status"),
                "404": error_response("No certificate has this code"),
            },
        }
    },
}
