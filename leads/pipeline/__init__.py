"""The pull/push pipeline: what moves leads from LinkedIn into the CRM.

- `locks`: one sync of an integration at a time (a lease on its row, renewed as the work goes);
- `runs`: a SyncRun per attempt, never left "running";
- `windows`: which `submittedAt` window a pull asks for (the overlap, backfills);
- `pull`: LinkedIn pages committed locally, one store path for the pull and the webhook;
- `push`: a pure plan of creates and updates, and the pusher that carries it out;
- `sync`: the orchestration (`integrations_sync`, `leads_retry_failed`).

Rules it keeps: a lead is committed locally, page by page,
before anything is pushed; the watermark moves only after the whole window is committed, and every
pull starts a little before it; leads are unique on the LinkedIn response id, so re-pulling never
doubles one, and only pending leads are pushed, under the integration's lock, so re-running never
creates one twice; a bad field never blocks its lead and a rejected lead never blocks its batch
(LGF-109/110).
"""
