// Which receivers a notification goes to: every route that matches adds its receivers, each once.
import type { RunNotification } from '../../model/notifications.js';
import type { NotificationRouteConfig } from '../../worker/config.js';

/** A runbook pattern as a regular expression: `*` matches any characters, `/` included; nothing else is special. */
const patternRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
      .join('.*')}$`,
  );

/** Whether `route` takes `notification`: its runbook, its event and (where the route names some) its outcome. */
export function routeMatches(route: NotificationRouteConfig, notification: RunNotification): boolean {
  if (route.runbooks && !route.runbooks.some((p) => patternRegExp(p).test(notification.runbook))) return false;
  if (route.events && !route.events.includes(notification.event)) return false;
  if (route.outcomes && !(notification.outcome && route.outcomes.includes(notification.outcome))) return false;
  return true;
}

/** The receivers (by name, in the order the routes first name them) that `notification` goes to; none when no route matches. */
export function routeNotification(routes: readonly NotificationRouteConfig[], notification: RunNotification): string[] {
  return [...new Set(routes.filter((r) => routeMatches(r, notification)).flatMap((r) => r.receivers))];
}
