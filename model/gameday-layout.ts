// Where game day reports live in the object store. Pure: the workflow, activities and CLI share it.
export const gameDayReportPrefix = 'gamedays/';

export const gameDayReportKeys = (id: string) => ({
  json: `${gameDayReportPrefix}${id}/report.json`,
  markdown: `${gameDayReportPrefix}${id}/report.md`,
  html: `${gameDayReportPrefix}${id}/report.html`,
});

/** A game day's id from its workflow ID: `gameday/2026-11-21T09:00:00.000Z` → `2026-11-21T09-00-00.000Z`. */
export const gameDayIdFor = (workflowId: string) => workflowId.replace(/^gameday\//, '').replace(/[^A-Za-z0-9._-]/g, '-');
