import { app } from '@azure/functions';

// Request bodies as streams (events and 100 MiB packages are decoded while they arrive). This is
// app-wide and must run before start-up finishes, so it lives here once, loaded with every function.
app.setup({ enableHttpStream: true });
