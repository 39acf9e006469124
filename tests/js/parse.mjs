// Reads an iCalendar file (path argument, or standard input) with Mozilla's ical.js, the
// parser inside Thunderbird, and prints its events as JSON for tests/test_calendar.py.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2] ?? 0, "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));
// Timed events name their zone by TZID; ical.js resolves it only once the VTIMEZONE is known.
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const events = calendar.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    summary: event.summary,
    description: event.description,
    sequence: event.sequence,
    start: event.startDate.toString(),
    end: event.endDate.toString(),
    all_day: event.startDate.isDate,
    tzid: event.startDate.isDate ? null : event.startDate.zone.tzid,
    utc_start: event.startDate.isDate ? null : event.startDate.toUnixTime(),
    status: component.getFirstPropertyValue("status"),
    categories: component.getAllProperties("categories").flatMap((p) => p.getValues()),
    alarms: component
      .getAllSubcomponents("valarm")
      .map((alarm) => alarm.getFirstPropertyValue("trigger").toString()),
  };
});
console.log(
  JSON.stringify({
    name: calendar.getFirstPropertyValue("x-wr-calname"),
    refresh: String(calendar.getFirstPropertyValue("refresh-interval")),
    events,
  }),
);
