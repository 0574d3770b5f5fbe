// The classroom (issue 8): explain mode, gradient check, backward graph, presentation and follow
// mode. The editor mounts these; the node component mounts NodeExplain (imported directly).
export { ClassroomButtons } from "./ClassroomButtons";
export { ClassroomLayer } from "./ClassroomLayer";
export { ExplainPanel } from "./ExplainPanel";
export { FollowApp } from "./FollowApp";
export { isFollowPage, startFollowPage } from "./follow";
