import { app } from '@azure/functions';
import { getConfig } from '../lib/config/index.js';

// Request bodies as streams (events and 100 MiB packages are decoded while they arrive). This is
// app-wide and must run before start-up finishes, so it lives here once, loaded with every function.
app.setup({ enableHttpStream: true });

// Every app setting is validated when the app starts, so a missing or malformed one stops it with
// a message naming the setting, instead of failing the first invocation that reads it.
app.hook.appStart(() => {
  getConfig();
});
