"""A user-defined task type, registered with the decorator (see OSTRA_TASK_MODULES)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from executor import RunContext, task_type


class Greeting(BaseModel):
    name: str
    times: int = 1


@task_type("acme.greetings.Hello", aliases=["Hello"], properties=Greeting)
def hello(props: Greeting, ctx: RunContext) -> dict[str, Any]:
    """Greet someone ``times`` times."""
    ctx.counter("greetings", props.times)
    return {"greeting": " ".join([f"hello {props.name}"] * props.times)}
