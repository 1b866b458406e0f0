"""The second door (`handoff serve`, DESIGN §8): the HTTP API and the pages, over the same engine use
cases as the CLI, with the signed-in user as the actor. Imports `engine` only; nothing imports `web`."""

from .app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
