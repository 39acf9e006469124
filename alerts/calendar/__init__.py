"""The calendar feed: changes rendered as iCalendar (``render``, pure and clock-free) and
selected, built and cached from the store (``feed``), with no HTTP in either."""
