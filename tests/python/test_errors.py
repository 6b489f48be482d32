"""tuna::Status codes raised from C++ become the tuna.errors hierarchy."""

import pickle

import pytest

import tuna
from tuna import _tuna


EXPECTED = {
    "invalid_argument": tuna.InvalidArgumentError,
    "not_found": tuna.NotFoundError,
    "already_exists": tuna.AlreadyExistsError,
    "conflict": tuna.ConflictError,
    "gone": tuna.GoneError,
    "unauthenticated": tuna.UnauthenticatedError,
    "permission_denied": tuna.PermissionDeniedError,
    "resource_exhausted": tuna.ResourceExhaustedError,
    "failed_precondition": tuna.FailedPreconditionError,
    "deadline_exceeded": tuna.DeadlineExceededError,
    "unavailable": tuna.UnavailableError,
    "cancelled": tuna.CancelledError,
    "unimplemented": tuna.UnimplementedError,
    "internal": tuna.InternalError,
}


def test_every_status_code_has_its_own_class():
    names = [name for _, name, _ in _tuna.STATUS_CODES if name != "ok"]
    assert sorted(names) == sorted(EXPECTED)
    classes = [tuna.error_class(n) for n in names]
    assert len(set(classes)) == len(classes)
    for cls in classes:
        assert issubclass(cls, tuna.TunaError) and cls is not tuna.TunaError


@pytest.mark.parametrize("code,cls", sorted(EXPECTED.items()))
def test_status_from_cpp_raises_its_class(code, cls):
    with pytest.raises(cls) as info:
        _tuna._raise_status(code, f"something {code}")
    assert type(info.value) is cls
    assert info.value.code == code
    assert str(info.value) == f"something {code}"
    assert info.value.field is None


def test_invalid_argument_carries_the_field_path():
    with pytest.raises(tuna.InvalidArgumentError) as info:
        _tuna._raise_status("invalid_argument", "spec.poolSize: expected integer, got string", "spec.poolSize")
    assert info.value.field == "spec.poolSize"
    assert "spec.poolSize" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_builtin_bases_let_plain_python_code_catch_them():
    assert issubclass(tuna.NotFoundError, LookupError)
    assert issubclass(tuna.DeadlineExceededError, TimeoutError)
    assert issubclass(tuna.UnavailableError, ConnectionError)
    assert issubclass(tuna.PermissionDeniedError, PermissionError)
    assert tuna.AbortedError is tuna.ConflictError


def test_ok_is_not_an_error_and_unknown_codes_are_refused():
    with pytest.raises(ValueError):
        _tuna._raise_status("ok", "fine")
    with pytest.raises(ValueError):
        _tuna._raise_status("no_such_code", "x")


def test_errors_pickle_with_their_field():
    e = pickle.loads(pickle.dumps(tuna.InvalidArgumentError("spec.x: bad", "spec.x")))
    assert type(e) is tuna.InvalidArgumentError and e.field == "spec.x" and e.message == "spec.x: bad"
