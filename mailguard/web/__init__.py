"""The review web UI: held mail for reviewers, the notice link for senders.

Server-rendered pages (starlette + jinja2), no JavaScript. Every decision is made by
``QuarantineService``; route handlers only read forms and render results.
"""
