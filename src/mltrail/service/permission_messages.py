"""The words of permission refusals: what is missing and who can grant it.

A resource the caller may not see answers exactly like one that does not exist (the
stores' own not-found messages); a refusal names only what the caller can already see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mltrail.errors import PermissionDenied, ResourceDoesNotExist

if TYPE_CHECKING:
    from mltrail.service.permissions import Level, Principal


# The exact messages of the stores' not-found errors: a resource the caller may not see
# answers exactly like one that does not exist.
def experiment_not_found(experiment_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")


def run_not_found(run_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Run with id={run_id} not found")


def logged_model_not_found(model_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


def registered_model_not_found(name: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


GRANTERS = "a user with MANAGE permission on it, or an admin"


def denied(who: Principal, *, have: Level, need: Level, what: str) -> PermissionDenied:
    """A refusal that says what is missing and who can grant it (the caller can see ``what``)."""
    return PermissionDenied(
        f"Permission denied: {who.username} has {have.name} on {what}, and this needs "
        f"{need.name}. {GRANTERS[0].upper()}{GRANTERS[1:]} can grant it (Sharing, on its page "
        f"in the dashboard, or `mltrail permissions grant {who.username} {need.name} ...`)."
    )


def hidden_experiment(who: Principal, name: str) -> PermissionDenied:
    """An experiment exists under ``name`` (the caller may learn that much, as creating it
    would tell them) but is not shared with the caller."""
    return PermissionDenied(
        f"Permission denied: an experiment named {name!r} exists but is not shared with "
        f"{who.username}. Ask {GRANTERS} to share it with you (Sharing, on the experiment's "
        f"page in the dashboard, or `mltrail permissions grant {who.username} EDIT "
        "--experiment ID`), or choose another experiment name."
    )


def default_experiment_denied(who: Principal) -> PermissionDenied:
    return PermissionDenied(
        f"Permission denied: the Default experiment (id 0) is not shared with {who.username}. "
        'Name an experiment of your own (mlflow.set_experiment("name") or '
        'mltrail.set_experiment("name")), or ask an admin to share the Default experiment '
        "with everyone signed in (`mltrail permissions signed-in EDIT --experiment 0`)."
    )
