// Reads .ics files with ical.js, as Thunderbird and Nextcloud do, and prints what a calendar
// program would show as JSON: per file its name and refresh interval, per event its UID,
// summary, sequence, status, alarms and every date, recurrences expanded before UNTIL.
// Usage: node parse_feeds.mjs UNTIL(YYYY-MM-DD) FILE...
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const [until, ...files] = process.argv.slice(2);
const end = ICAL.Time.fromDateString(until);

function dates(event) {
  if (!event.isRecurring()) {
    return [event.startDate.toString()];
  }
  const found = [];
  const iterator = event.iterator();
  for (let next = iterator.next(); next && next.compare(end) < 0; next = iterator.next()) {
    found.push(next.toString());
  }
  return found;
}

const feeds = {};
for (const file of files) {
  const calendar = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
  const events = {};
  for (const vevent of calendar.getAllSubcomponents("vevent")) {
    const event = new ICAL.Event(vevent);
    events[event.uid] = {
      summary: event.summary,
      sequence: event.sequence,
      status: vevent.getFirstPropertyValue("status"),
      alarms: vevent.getAllSubcomponents("valarm").length,
      dates: dates(event),
    };
  }
  feeds[file] = {
    name: calendar.getFirstPropertyValue("x-wr-calname"),
    refresh: String(calendar.getFirstPropertyValue("refresh-interval")),
    events,
  };
}
process.stdout.write(JSON.stringify(feeds));
