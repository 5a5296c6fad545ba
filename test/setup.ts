import { installFunctionsCore } from '../dev/host/core.js';

// Test files import function modules directly (to call handlers or read fixture state); the
// worker API must be in place before their app.* registrations run, as it is in Azure.
installFunctionsCore();
