// The provider dashboard's entry (dashboard/index.html): its own page and bundle, so the
// booking page's first view never loads it.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";

import "react-day-picker/style.css";
import "../shared/styles.css";
import "./dashboard.css";
import { App } from "./App";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter basename="/dashboard">
      <App />
    </BrowserRouter>
  </StrictMode>,
);
