// Notifications of runs (started, approval needed, failed, completed) to the receivers the worker's
// configuration routes them to. With no `notifications:` configured, nobody is told.
import type { NotificationActivities, NotificationDelivery, RunNotification } from '../../model/notifications.js';

export const createNotificationActivities = (): NotificationActivities => ({
  deliverNotification(notification: RunNotification): Promise<NotificationDelivery> {
    void notification;
    return Promise.resolve({ delivered: [], undelivered: [] });
  },
});
