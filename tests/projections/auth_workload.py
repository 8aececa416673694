"""A randomized workload of user, token, role and grant commands, valid and rejected,
executed on the store (the API refuses them while authentication is off)."""

from __future__ import annotations

import random

from trackledger.eventlog import auth_commands as a
from trackledger.eventlog.commands import CreateExperiment, DeleteExperiment, Purge
from trackledger.eventlog.errors import TrackingError
from trackledger.eventlog.results import AuthRef, ExperimentId
from trackledger.services.backends import Backend

PERMISSIONS = ["READ", "USE", "EDIT", "MANAGE", "DENY", "NO_PERMISSIONS", "BOGUS"]


async def auth_workload(backend: Backend, seed: int, steps: int = 200) -> int:
    """Run ``steps`` random commands; return how many were accepted."""
    rng = random.Random(seed)
    names = ["alice", "bob", "carol", "alice", "bob", "bad:name"]
    roles: list[int] = [99]
    role_permissions: list[int] = [99]
    experiments = ["0"]
    tokens: list[tuple[str, str]] = []
    accepted = 0
    for step in range(steps):
        user = rng.choice(names)
        # Grants, assignments and role permissions more often than deletions.
        choice = rng.choice(
            [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12, 12, 13, 14, 14, 14, 15, 16]
        )
        command: object
        if choice == 0:
            command = a.CreateUser(username=user, password_hash=f"h{step}", is_admin=step % 5 == 0)
        elif choice == 1:
            command = a.ChangePassword(username=user, password_hash=f"p{step}")
        elif choice == 2:
            command = a.SetAdmin(username=user, is_admin=rng.random() < 0.5)
        elif choice == 3:
            command = a.DeleteUser(username=user if rng.random() < 0.5 else "")
        elif choice == 4:
            token_id = f"t{step}"
            tokens.append((user, token_id))
            command = a.CreateToken(
                username=user,
                token_id=token_id,
                name=rng.choice(["ci", "laptop", ""]),
                token_hash=f"th{step}",
                expires_at=rng.choice([None, 10**13]),
                kind=rng.choice(["access", "session"]),
            )
        elif choice == 5 and tokens:
            owner, token_id = rng.choice(tokens)
            command = a.RevokeToken(username=rng.choice([owner, user]), token_id=token_id)
        elif choice == 6:
            command = a.CreateRole(
                name=rng.choice(["team-a", "team-b", "__user_1__"]),
                workspace=rng.choice(["default", "default", "other"]),
                description=rng.choice([None, "d"]),
            )
        elif choice == 7:
            command = a.UpdateRole(
                role_id=rng.choice(roles),
                name=rng.choice([None, "team-c", "team-a"]),
                description=rng.choice([None, f"d{step}"]),
            )
        elif choice == 8:
            command = a.DeleteRole(role_id=rng.choice(roles))
        elif choice == 9:
            command = a.AddRolePermission(
                role_id=roles[-1] if rng.random() < 0.7 else rng.choice(roles),
                resource_type=rng.choice(["experiment", "registered_model", "workspace", "x"]),
                resource_pattern=rng.choice(["*", "1", experiments[-1]]),
                permission=rng.choice(PERMISSIONS),
            )
        elif choice == 10:
            command = a.ChangeRolePermission(
                role_permission_id=rng.choice(role_permissions),
                permission=rng.choice(PERMISSIONS),
            )
        elif choice == 11:
            command = a.RemoveRolePermission(role_permission_id=rng.choice(role_permissions))
        elif choice == 12:
            command = a.AssignRole(username=user, role_id=roles[-1])
        elif choice == 13:
            command = a.UnassignRole(username=user, role_id=rng.choice(roles))
        elif choice == 14:
            command = a.GrantPermission(
                username=user,
                resource_type=rng.choice(["experiment", "registered_model"]),
                resource_id=rng.choice([*experiments, "*", "77"]),
                permission=rng.choice(PERMISSIONS),
                mode=rng.choice(["create", "update", "set"]),
                legacy=rng.random() < 0.3,
            )
        elif choice == 15:
            command = a.RevokePermission(
                username=user,
                resource_type=rng.choice(["experiment", "registered_model"]),
                resource_id=rng.choice([*experiments, "*"]),
            )
        else:
            kind = rng.randrange(3)
            if kind == 0:
                command = CreateExperiment(name=f"x{step}")
            elif kind == 1:
                command = DeleteExperiment(experiment_id=rng.choice(experiments))
            else:
                command = Purge(older_than_ms=0)
        try:
            result = await backend.store.execute(command, actor="workload")  # type: ignore[arg-type]
        except TrackingError:
            continue
        accepted += 1
        if isinstance(result, AuthRef):
            if isinstance(command, a.CreateRole):
                roles.append(result.id)
            elif isinstance(command, a.AddRolePermission):
                role_permissions.append(result.id)
        elif isinstance(result, ExperimentId):
            experiments.append(result.experiment_id)
    return accepted
