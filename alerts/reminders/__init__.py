"""Reminders before a change takes effect: what should be in the outbox (``planner``, pure,
and ``plan``, which applies it), sending what is due (``dispatcher``, ``messages``), the
service's clock (``engine``), China's working days (``workdays``) and what the faces run
(``ops``)."""
